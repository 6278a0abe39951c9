// FFTW 3 (single and double precision). Do not include <complex.h> before
// fftw3.h: FFTW then uses C99 complex types Swift cannot import.
#include <fftw3.h>
