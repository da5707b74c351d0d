// Module KilnImport
