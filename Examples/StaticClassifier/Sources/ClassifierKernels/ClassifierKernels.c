/* KilnPlugin adds the generated model sources to this C target; this file only makes it one. */
