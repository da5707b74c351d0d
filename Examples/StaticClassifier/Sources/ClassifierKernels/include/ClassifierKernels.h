/* The models KilnPlugin compiled into this target: kiln_NAME_run and kiln_NAME_metadata for each. */
#include "kiln_models.h"
