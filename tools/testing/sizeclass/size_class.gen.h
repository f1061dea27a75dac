static inline unsigned int dslab_size_class(size_t size)
{
	if (likely(size <= DSLAB_SMALL_SIZE_MAX))
		return dslab_size_to_class8[(size + DSLAB_SMALL_SIZE_DIV - 1) /
					    DSLAB_SMALL_SIZE_DIV];
	if (size <= DSLAB_MAX_SMALL_SIZE)
		return dslab_size_to_class128[(size - DSLAB_SMALL_SIZE_MAX +
					       DSLAB_LARGE_SIZE_DIV - 1) /
					      DSLAB_LARGE_SIZE_DIV];
	return DSLAB_CLASS_LARGE;
}
