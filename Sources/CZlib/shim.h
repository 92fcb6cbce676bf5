// zlib, for reading .gz data files (gzopen reads plain files too).
#include <zlib.h>
