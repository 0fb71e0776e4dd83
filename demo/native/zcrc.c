#include <bzlib.h>
#include <zlib.h>

#include "zcrc.h"

/* zlib takes uInt lengths: feed it in chunks so any size works. */
unsigned long zcrc_crc32(const unsigned char *data, size_t len) {
    uLong crc = crc32(0L, Z_NULL, 0);
    while (len > 0) {
        uInt chunk = len > 0x40000000u ? 0x40000000u : (uInt)len;
        crc = crc32(crc, data, chunk);
        data += chunk;
        len -= chunk;
    }
    return crc;
}

unsigned long zcrc_adler32(const unsigned char *data, size_t len) {
    uLong sum = adler32(0L, Z_NULL, 0);
    while (len > 0) {
        uInt chunk = len > 0x40000000u ? 0x40000000u : (uInt)len;
        sum = adler32(sum, data, chunk);
        data += chunk;
        len -= chunk;
    }
    return sum;
}

const char *zcrc_zlib_version(void) { return zlibVersion(); }

int zcrc_bz2_compress(const unsigned char *data, size_t len, unsigned char *out, size_t *out_len) {
    unsigned int dest_len = (unsigned int)*out_len;
    int rc = BZ2_bzBuffToBuffCompress((char *)out, &dest_len, (char *)data, (unsigned int)len, 9, 0, 0);
    *out_len = dest_len;
    return rc == BZ_OK ? 0 : rc;
}
