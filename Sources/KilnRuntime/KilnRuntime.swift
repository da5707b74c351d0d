// Module KilnRuntime
