// Module KilnCompiler
