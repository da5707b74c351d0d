// Module Kiln
