import KilnIR

/// An element-wise activation function: `.relu`, `.relu6`, `.sigmoid`, `.tanh`, `.gelu`, `.hardSwish`.
public typealias Activation = KilnIR.Activation

/// How a sliding window treats the border: `.same` or `.valid`.
public typealias Padding = KilnIR.Padding

/// A problem found while tracing, with the file and line of the layer.
public typealias Diagnostic = KilnIR.Diagnostic

/// Every problem found while tracing, thrown together.
public typealias DiagnosticError = KilnIR.DiagnosticError

/// Affine int8 quantization parameters: `real = scale · (q - zeroPoint)`.
public typealias QuantizationParameters = KilnIR.QuantizationParameters

/// Which values share one dynamically chosen int8 grid: `.perBatch` or `.perRow`.
public typealias DynamicQuantizationScope = KilnIR.DynamicQuantizationScope
