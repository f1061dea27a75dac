# SPDX-License-Identifier: GPL-2.0
#
# dslab - thin wrapper around kbuild; everything kbuild needs is in Kbuild.
# "make help" lists the targets; Documentation/testing.rst explains them.

KDIR ?= $(shell d=/lib/modules/$$(uname -r)/build; \
	  if [ -d $$d ]; then echo $$d; \
	  else ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1; fi)
KBUILD = $(MAKE) -C $(KDIR) M=$(CURDIR) $(if $(W),W=$(W))

# "make install" writes, under the root DESTDIR (or INSTALL_MOD_PATH: either
# one names the root for all three files):
#   /lib/modules/<kernelrelease>/updates/dslab.ko      (kbuild modules_install)
#   /usr/include/dslab/linux/dslab.h                   (for client modules)
#   /usr/share/dslab/<kernelrelease>/Module.symvers    (for client modules)
# Module.symvers holds the kernel's modversions CRCs, so there is one per
# kernel release: KDIR's UTS_RELEASE, what "uname -r" says when it runs
# (Debian's headers have another string in include/config/kernel.release).
# scripts/dkms-dev-files.sh installs the same two files for DKMS.
ifneq ($(DESTDIR),)
INSTALL_MOD_PATH ?= $(DESTDIR)
else
DESTDIR = $(INSTALL_MOD_PATH)
endif
KRELEASE = $(shell sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' \
	   $(KDIR)/include/generated/utsrelease.h 2>/dev/null)

.PHONY: all modules clean check check-kcsan check-arm64 style run bench install help

all: modules

modules:
	$(KBUILD) modules

clean:
	$(KBUILD) clean

check:
	bash tools/testing/vm/check.sh

check-kcsan:
	bash tools/testing/vm/check.sh --kcsan

check-arm64:
	bash tools/testing/vm/arm64.sh

style:
	bash tools/testing/vm/check.sh --static

run:
	bash tools/testing/vm/run.sh

bench:
	bash bench/run.sh

# DSLAB_TESTS=n (Kbuild): only dslab.ko is built into modules.order, the
# list modules_install installs; the test modules are not installed.
install:
	@test -n "$(KRELEASE)" || \
		{ echo "install: no UTS_RELEASE in $(KDIR)/include/generated/utsrelease.h"; exit 1; }
	$(KBUILD) DSLAB_TESTS=n modules
	$(KBUILD) DSLAB_TESTS=n INSTALL_MOD_DIR=updates \
		INSTALL_MOD_PATH=$(INSTALL_MOD_PATH) modules_install
	install -D -m 0644 include/linux/dslab.h \
		$(DESTDIR)/usr/include/dslab/linux/dslab.h
	install -D -m 0644 Module.symvers \
		$(DESTDIR)/usr/share/dslab/$(KRELEASE)/Module.symvers

help:
	@echo 'dslab targets:'
	@echo '  all (default)  build dslab.ko (+ dslab_test.ko with CONFIG_KUNIT, the'
	@echo '                 bench and torture modules) against KDIR'
	@echo '                 KDIR=$(KDIR)'
	@echo '  W=1            extra compiler warnings (passed to kbuild)'
	@echo '  DSLAB_TESTS=n  build dslab.ko alone, without the test modules'
	@echo '  clean          remove build products'
	@echo '  install        dslab.ko only, into /lib/modules/<kver>/updates, and for'
	@echo '                 client modules /usr/include/dslab/linux/dslab.h and'
	@echo '                 /usr/share/dslab/<kver>/Module.symvers; <kver> is'
	@echo '                 KDIR'"'"'s release; DESTDIR or INSTALL_MOD_PATH=<root>'
	@echo '                 installs all three under <root>'
	@echo '  run            boot a 6.12 debug kernel in qemu and run the demo'
	@echo '  check          every test: static gates, KUnit + shell tests on'
	@echo '                 6.1, 6.12 and newest (7.3) debug kernels, Debian'
	@echo '                 stock 6.1 and newest kernels'
	@echo '  style          only the static gates (checkpatch, kernel-doc, ...)'
	@echo '  check-kcsan    only the 6.12 KCSAN kernel (make check runs it too)'
	@echo '  check-arm64    only the cross-built 6.12 arm64 debug kernel under'
	@echo '                 qemu-system-aarch64 (make check runs it too)'
	@echo '  bench          benchmarks (bench/run.sh; DSLAB_BENCH_KERNEL=6.12|6.1|newest)'
	@echo 'Environment: DSLAB_KERNELS="6.1 6.12 <newest>" DSLAB_VM_ACCEL=tcg|kvm'
	@echo '  DSLAB_CACHE=~/.cache/dslab DSLAB_SKIP_STOCK=1 DSLAB_SKIP_KCSAN=1'
	@echo '  DSLAB_SKIP_ARM64=1'
	@echo '  DSLAB_VM_TIMEOUT=900'
