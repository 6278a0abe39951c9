// libpng's simplified API (png_image_write_to_file) needs no setjmp.
#include <png.h>
