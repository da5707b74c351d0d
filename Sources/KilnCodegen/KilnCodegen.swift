// Module KilnCodegen
