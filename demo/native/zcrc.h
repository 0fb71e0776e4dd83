/* The demo's native core: lives outside the Python package, as a real
 * project's native library does, so the build needs it copied in too. */
#ifndef ZCRC_H
#define ZCRC_H

#include <stddef.h>

unsigned long zcrc_crc32(const unsigned char *data, size_t len);
unsigned long zcrc_adler32(const unsigned char *data, size_t len);
const char *zcrc_zlib_version(void);

#endif
