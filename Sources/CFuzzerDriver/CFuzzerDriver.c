// Declarations only (include/CFuzzerDriver.h): libFuzzer's runtime defines the driver.
#include "CFuzzerDriver.h"
