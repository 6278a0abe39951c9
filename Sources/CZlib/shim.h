// zlib (zlib1g-dev, a dependency of libpng-dev): raw DEFLATE for zip entries and CRC-32.
// inflateInit2 is a function-like macro Swift cannot import; wrapped here.
#include <zlib.h>

/// Initialises `stream` for raw DEFLATE data (no zlib/gzip wrapper), as stored in zip entries.
static inline int czlib_inflate_init_raw(z_stream *stream) {
    return inflateInit2(stream, -MAX_WBITS);
}
