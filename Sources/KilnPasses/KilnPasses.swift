// Module KilnPasses
