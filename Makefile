# SPDX-License-Identifier: GPL-2.0
#
# dslab - thin wrapper around kbuild; everything kbuild needs is in Kbuild.
# "make help" lists the targets; Documentation/testing.rst explains them.

KDIR ?= $(shell d=/lib/modules/$$(uname -r)/build; \
	  if [ -d $$d ]; then echo $$d; \
	  else ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1; fi)
KBUILD = $(MAKE) -C $(KDIR) M=$(CURDIR) $(if $(W),W=$(W))

# Header for client modules: $(DESTDIR)/usr/include/dslab/linux/dslab.h
DESTDIR ?= $(INSTALL_MOD_PATH)

.PHONY: all modules clean check check-kcsan style run bench install help

all: modules

modules:
	$(KBUILD) modules

clean:
	$(KBUILD) clean

check:
	bash tools/testing/vm/check.sh

check-kcsan:
	bash tools/testing/vm/check.sh --kcsan

style:
	bash tools/testing/vm/check.sh --static

run:
	bash tools/testing/vm/run.sh

bench:
	bash bench/run.sh

install: modules
	$(KBUILD) INSTALL_MOD_DIR=updates modules_install
	install -D -m 0644 include/linux/dslab.h \
		$(DESTDIR)/usr/include/dslab/linux/dslab.h

help:
	@echo 'dslab targets:'
	@echo '  all (default)  build dslab.ko (+ dslab_test.ko with CONFIG_KUNIT) against KDIR'
	@echo '                 KDIR=$(KDIR)'
	@echo '  W=1            extra compiler warnings (passed to kbuild)'
	@echo '  clean          remove build products'
	@echo '  install        modules_install into /lib/modules/<kver>/updates'
	@echo '                 (honours INSTALL_MOD_PATH) and the header into'
	@echo '                 $$(DESTDIR)/usr/include/dslab/linux/dslab.h'
	@echo '  run            boot a 6.12 debug kernel in qemu and run the demo'
	@echo '  check          every test: static gates, KUnit + shell tests on'
	@echo '                 6.1, 6.12 and newest (7.3) debug kernels, Debian'
	@echo '                 stock 6.1 and newest kernels'
	@echo '  style          only the static gates (checkpatch, kernel-doc, ...)'
	@echo '  check-kcsan    only the 6.12 KCSAN kernel (make check runs it too)'
	@echo '  bench          benchmarks (bench/run.sh; DSLAB_BENCH_KERNEL=6.12|6.1|newest)'
	@echo 'Environment: DSLAB_KERNELS="6.1 6.12 <newest>" DSLAB_VM_ACCEL=tcg|kvm'
	@echo '  DSLAB_CACHE=~/.cache/dslab DSLAB_SKIP_STOCK=1 DSLAB_SKIP_KCSAN=1'
	@echo '  DSLAB_VM_TIMEOUT=900'
