// OpenBLAS's CBLAS (pthread build). cblas.h lives in /usr/include/x86_64-linux-gnu.
#include <cblas.h>
// OpenBLAS thread control (declared in cblas.h of OpenBLAS; repeated for clarity).
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
