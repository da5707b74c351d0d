// Module KilnReference
