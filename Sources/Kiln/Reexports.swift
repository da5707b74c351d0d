import KilnIR

/// An element-wise function: the activations `.relu`, `.relu6`, `.sigmoid`, `.tanh`, `.gelu`, `.hardSwish`,
/// `.elu`, `.reluMinus1To1`, `.relu0To1`, and the math functions `.exp`, `.log`, `.sqrt`, `.rsqrt`, `.abs`,
/// `.negate`, `.erf` (`ActivationLayer(.exp)`).
public typealias Activation = KilnIR.Activation

/// An element-wise function of two tensors for ``combine(_:_:_:activation:scale:zeroPoint:)``:
/// `.divide`, `.minimum`, `.maximum`, `.squaredDifference`, `.power`.
public typealias BinaryFunction = KilnIR.BinaryFunction

/// How a sliding window treats the border: `.same` or `.valid`.
public typealias Padding = KilnIR.Padding

/// What code generation favors where a kernel trades weight bytes for speed.
public typealias OptimizationGoal = KilnIR.OptimizationGoal

/// A problem found while tracing, with the file and line of the layer.
public typealias Diagnostic = KilnIR.Diagnostic

/// Every problem found while tracing, thrown together.
public typealias DiagnosticError = KilnIR.DiagnosticError

/// Affine int8 quantization parameters: `real = scale · (q - zeroPoint)`.
public typealias QuantizationParameters = KilnIR.QuantizationParameters

/// Which values share one dynamically chosen int8 grid: `.perBatch` or `.perRow`.
public typealias DynamicQuantizationScope = KilnIR.DynamicQuantizationScope
