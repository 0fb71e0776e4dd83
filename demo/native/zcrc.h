/* The demo's native core: lives outside the Python package, as a real
 * project's native library does, so the build needs it copied in too.
 * It links zlib (on auditwheel's allow-list) and libbz2 (not on it, so the
 * repaired wheel must carry a grafted copy). */
#ifndef ZCRC_H
#define ZCRC_H

#include <stddef.h>

unsigned long zcrc_crc32(const unsigned char *data, size_t len);
unsigned long zcrc_adler32(const unsigned char *data, size_t len);
const char *zcrc_zlib_version(void);

/* Compresses `len` bytes into `out` (`*out_len` bytes big); returns 0 on
 * success and sets `*out_len` to the compressed size. */
int zcrc_bz2_compress(const unsigned char *data, size_t len, unsigned char *out, size_t *out_len);

#endif
