/// Every operation the graph can hold. One enum, so every pass, the reference
/// interpreter and codegen see the whole op set in one place.
///
/// Layout conventions: activations are NHWC; fully-connected filters are
/// `[outputs, inputs]`; convolution filters are OHWI `[out, kh, kw, in]`;
/// depthwise filters are `[1, kh, kw, channels * multiplier]`. Biases are 1-D
/// over output channels. These match TensorFlow Lite, so per-channel
/// quantization is always along axis 0 of a filter.
public enum Op: Hashable, Sendable, Codable {
    /// `y = x · filterᵀ (+ bias)` over the last axis of `x`. Inputs: x, filter, optional bias.
    case fullyConnected(activation: Activation?)
    /// 2-D convolution. Inputs: x (NHWC), filter (OHWI), optional bias.
    case conv2D(Conv2DAttributes)
    /// Depthwise 2-D convolution: each input channel convolved with its own
    /// `multiplier` filters. Inputs: x (NHWC), filter `[1, kh, kw, channels · multiplier]`,
    /// optional bias; the multiplier is implied by the filter's last axis.
    case depthwiseConv2D(Conv2DAttributes)
    /// Max pooling over H and W.
    case maxPool2D(Pool2DAttributes)
    /// Average pooling over H and W; padded positions are not counted.
    case averagePool2D(Pool2DAttributes)
    /// Reinterprets the input with a new shape of the same element count.
    case reshape(Shape)
    /// An element-wise activation function.
    case activation(Activation)
    /// Softmax along the last axis.
    case softmax
    /// Element-wise sum with NumPy broadcasting, then an optional activation.
    case add(activation: Activation?)
    /// Element-wise product with NumPy broadcasting, then an optional activation.
    case multiply(activation: Activation?)
    /// Element-wise difference, first operand minus second, with NumPy broadcasting, then an optional activation.
    case subtract(activation: Activation?)
    /// Element-wise `function(a, b)` with NumPy broadcasting, then an optional activation.
    ///
    /// Add, multiply and subtract keep their own cases: passes fold biases and
    /// scales through them.
    case binary(BinaryFunction, activation: Activation?)
    /// `[..., M, K] · [..., K, N]` over the last two axes, the leading (batch)
    /// axes broadcast; an operand marked adjoint is read transposed (`[..., K, M]`, `[..., N, K]`).
    case batchMatMul(adjointA: Bool, adjointB: Bool)
    /// Joins the operands along `axis`, then an optional activation.
    case concatenation(axis: Int, activation: Activation?)
    /// Pads axis `i` with `paddings[i][0]` elements before and `paddings[i][1]`
    /// after, of value zero (the zero point for quantized tensors).
    case pad(paddings: [[Int]])
    /// The block of the input starting at `begin` with extent `size` along each axis.
    case slice(begin: [Int], size: [Int])
    /// Reorders the axes: result axis `i` is input axis `permutation[i]`.
    case transpose(permutation: [Int])
    /// The mean over `axes`, which stay as size 1 when `keepDimensions`.
    case mean(axes: [Int], keepDimensions: Bool)
    /// `function` folded over `axes`, which stay as size 1 when `keepDimensions`.
    case reduce(ReduceFunction, axes: [Int], keepDimensions: Bool)
    /// The int32 position of the largest (or smallest) element along `axis`,
    /// which stays as size 1 when `keepDimensions`; the first position wins a
    /// tie, and a NaN counts as the largest and the smallest.
    case argExtremum(Extremum, axis: Int, keepDimensions: Bool)
    /// Resizes the H and W axes of an NHWC tensor by nearest-neighbour or bilinear sampling.
    case resize(ResizeAttributes)
    /// The slices of the first operand along `axis` that the int32 indices of
    /// the second pick, in the indices' shape. Negative indices count from the
    /// end (as in NumPy and ONNX); an index outside the axis picks zeros.
    case gather(axis: Int)
    /// Converts float32 to `dtype` with the result's quantization parameters,
    /// or requantizes an integer tensor to new parameters.
    case quantize(to: DType)
    /// Converts a quantized integer tensor to float32.
    case dequantize
    /// Converts float32 values to int32 (toward zero, saturating; NaN becomes 0) or int32 to float32.
    case cast(to: DType)
    /// Rounds float32 values to the int8 grid that each batch entry's (or
    /// each innermost row's) own range gives, returning the dequantized float32
    /// values: how dynamic-range ("hybrid") kernels see their input. See
    /// ``QuantizedArithmetic/dynamicRangeParameters(minimum:maximum:)``.
    case dynamicRangeQuantize(DynamicQuantizationScope)

    /// The op's kind as a short, stable name used in dumps and errors.
    public var kindName: String {
        switch self {
        case .fullyConnected: "fully_connected"
        case .conv2D: "conv2d"
        case .depthwiseConv2D: "depthwise_conv2d"
        case .maxPool2D: "max_pool2d"
        case .averagePool2D: "average_pool2d"
        case .reshape: "reshape"
        case .activation(let function): function.rawValue
        case .softmax: "softmax"
        case .add: "add"
        case .multiply: "multiply"
        case .subtract: "subtract"
        case .binary(let function, _): function.rawValue
        case .batchMatMul: "batch_matmul"
        case .concatenation: "concatenation"
        case .pad: "pad"
        case .slice: "slice"
        case .transpose: "transpose"
        case .mean: "mean"
        case .reduce(let function, _, _): "reduce_\(function.rawValue)"
        case .argExtremum(let extremum, _, _): extremum == .maximum ? "arg_max" : "arg_min"
        case .resize(let attributes): "resize_\(attributes.method.rawValue)"
        case .gather: "gather"
        case .quantize: "quantize"
        case .dequantize: "dequantize"
        case .cast: "cast"
        case .dynamicRangeQuantize: "dynamic_range_quantize"
        }
    }

    /// Whether an int8 result takes its input's quantization parameters by
    /// default: ops that move or pick values (and ReLU/ReLU6, which only clamp).
    public var keepsInputQuantization: Bool {
        switch self {
        case .maxPool2D, .averagePool2D, .reshape, .pad, .slice, .transpose, .concatenation, .activation(.relu),
            .activation(.relu6), .reduce(.maximum, _, _), .reduce(.minimum, _, _), .resize, .gather:
            true
        default: false
        }
    }

    /// The activation fused into the op's epilogue, if any.
    public var fusedActivation: Activation? {
        switch self {
        case .fullyConnected(let activation), .add(let activation), .multiply(let activation), .subtract(let activation),
            .binary(_, let activation), .concatenation(_, let activation):
            activation
        case .conv2D(let attributes), .depthwiseConv2D(let attributes): attributes.activation
        default: nil
        }
    }

    /// The same op with `activation` fused into its epilogue, or `nil` if the
    /// op cannot take one or already has one.
    public func fusing(_ activation: Activation) -> Op? {
        guard fusedActivation == nil else { return nil }
        return replacingActivation(activation)
    }

    /// The same op with `activation` (or none) as its fused activation, or `nil` if the op
    /// cannot hold one.
    public func replacingActivation(_ activation: Activation?) -> Op? {
        switch self {
        case .fullyConnected: return .fullyConnected(activation: activation)
        case .add: return .add(activation: activation)
        case .multiply: return .multiply(activation: activation)
        case .subtract: return .subtract(activation: activation)
        case .binary(let function, _): return .binary(function, activation: activation)
        case .conv2D(var attributes):
            attributes.activation = activation
            return .conv2D(attributes)
        case .depthwiseConv2D(var attributes):
            attributes.activation = activation
            return .depthwiseConv2D(attributes)
        case .concatenation(let axis, _):
            return .concatenation(axis: axis, activation: activation)
        default: return nil
        }
    }
}

/// An element-wise function of one value: the activations networks use, and
/// the math functions imported graphs apply element by element.
public enum Activation: String, Hashable, Sendable, Codable, CaseIterable {
    /// `max(x, 0)`.
    case relu
    /// `min(max(x, 0), 6)`.
    case relu6
    /// `1 / (1 + e^-x)`.
    case sigmoid
    /// Hyperbolic tangent.
    case tanh
    /// `x · Φ(x)` with the exact (erf-based) Gaussian CDF.
    case gelu
    /// `x/6 · min(max(x + 3, 0), 6)`: MobileNetV3's piecewise-linear swish.
    case hardSwish
    /// `x` for `x > 0`, else `e^x - 1`.
    case elu
    /// `min(max(x, -1), 1)`.
    case reluMinus1To1
    /// `min(max(x, 0), 1)`.
    case relu0To1
    /// `e^x`.
    case exp
    /// The natural logarithm; NaN below zero, -∞ at zero.
    case log
    /// The square root; NaN below zero.
    case sqrt
    /// `1 / √x`.
    case rsqrt
    /// `|x|`.
    case abs
    /// `-x`.
    case negate
    /// The Gauss error function.
    case erf
}

/// An element-wise function of two values.
public enum BinaryFunction: String, Hashable, Sendable, Codable, CaseIterable {
    /// `a / b`.
    case divide
    /// The smaller of `a` and `b`; NaN if either is NaN.
    case minimum
    /// The larger of `a` and `b`; NaN if either is NaN.
    case maximum
    /// `(a - b)²`.
    case squaredDifference
    /// `a` raised to the power `b`.
    case power
    /// `a` where `a ≥ 0`, else `a · b`: a leaky or parametric ReLU with slopes `b`.
    case prelu
}

/// A function that folds a tensor's elements along axes.
public enum ReduceFunction: String, Hashable, Sendable, Codable, CaseIterable {
    /// The sum.
    case sum
    /// The product.
    case product
    /// The largest element; NaN if any is NaN.
    case maximum
    /// The smallest element; NaN if any is NaN.
    case minimum
}

/// Which extreme an arg-reduction looks for.
public enum Extremum: String, Hashable, Sendable, Codable {
    /// The largest element.
    case maximum
    /// The smallest element.
    case minimum
}

/// Which values share one set of dynamically chosen quantization parameters.
public enum DynamicQuantizationScope: String, Hashable, Sendable, Codable {
    /// Everything in one batch entry.
    case perBatch
    /// Each innermost row (one pixel's channels, one fully-connected input row).
    case perRow
}

/// How a sliding window treats the border.
public enum Padding: String, Hashable, Sendable, Codable {
    /// Pad so that `output = ceil(input / stride)`, extra padding after (TensorFlow's rule).
    case same
    /// No padding: windows lie fully inside the input.
    case valid
}

/// Attributes of a 2-D convolution.
public struct Conv2DAttributes: Hashable, Sendable, Codable {
    /// Steps between windows along H and W.
    public var strides: [Int]
    /// Spacing between filter taps along H and W.
    public var dilations: [Int]
    /// Border handling.
    public var padding: Padding
    /// `[[top, bottom], [left, right]]` zero rows and columns when the model
    /// states its padding (ONNX); overrides `padding`.
    public var explicitPadding: [[Int]]?
    /// Activation fused into the epilogue.
    public var activation: Activation?

    /// Creates convolution attributes.
    public init(
        strides: [Int] = [1, 1], dilations: [Int] = [1, 1], padding: Padding = .valid, explicitPadding: [[Int]]? = nil,
        activation: Activation? = nil
    ) {
        precondition(strides.count == 2 && dilations.count == 2, "strides and dilations are (h, w)")
        self.strides = strides
        self.dilations = dilations
        self.padding = padding
        self.explicitPadding = explicitPadding
        self.activation = activation
    }
}

/// Attributes of a 2-D pooling window.
public struct Pool2DAttributes: Hashable, Sendable, Codable {
    /// Window size along H and W.
    public var window: [Int]
    /// Steps between windows along H and W.
    public var strides: [Int]
    /// Border handling.
    public var padding: Padding
    /// `[[top, bottom], [left, right]]` positions outside the input that windows
    /// may cover (never counted) when the model states its padding (ONNX); overrides `padding`.
    public var explicitPadding: [[Int]]?

    /// Creates pooling attributes.
    public init(window: [Int], strides: [Int], padding: Padding = .valid, explicitPadding: [[Int]]? = nil) {
        precondition(window.count == 2 && strides.count == 2, "window and strides are (h, w)")
        self.window = window
        self.strides = strides
        self.padding = padding
        self.explicitPadding = explicitPadding
    }
}

extension Conv2DAttributes {
    /// Whether a convolution with this `filter` (`[O, kh, kw, I]`) reads exactly one input pixel per
    /// output pixel, in order: a matrix product over pixels.
    public func isPointwise(input: Shape, filter: Shape, output: Shape) -> Bool {
        filter[1] == 1 && filter[2] == 1 && strides == [1, 1] && input[1] == output[1] && input[2] == output[2]
    }

    /// The row and column geometry of this convolution over an NHWC `input` with a `kernel` of (height, width).
    public func geometry(input: Shape, kernel: (Int, Int)) -> (rows: WindowGeometry, columns: WindowGeometry) {
        (
            WindowGeometry(
                inputSize: input[1], window: kernel.0, stride: strides[0], dilation: dilations[0], padding: padding,
                explicit: explicitPadding?[0]),
            WindowGeometry(
                inputSize: input[2], window: kernel.1, stride: strides[1], dilation: dilations[1], padding: padding,
                explicit: explicitPadding?[1])
        )
    }
}

extension Pool2DAttributes {
    /// The row and column geometry of this pooling window over an NHWC `input`.
    public func geometry(input: Shape) -> (rows: WindowGeometry, columns: WindowGeometry) {
        (
            WindowGeometry(
                inputSize: input[1], window: window[0], stride: strides[0], padding: padding, explicit: explicitPadding?[0]),
            WindowGeometry(
                inputSize: input[2], window: window[1], stride: strides[1], padding: padding, explicit: explicitPadding?[1])
        )
    }
}

/// The padding and output size of one spatial axis of a sliding window.
public struct WindowGeometry: Hashable, Sendable {
    /// Output positions along the axis.
    public var outputSize: Int
    /// Padding before the first input element.
    public var padBefore: Int
    /// Whether some window reaches into the padding, so kernels must check each tap's bounds.
    public var touchesPadding: Bool

    /// Computes geometry with TensorFlow's rules for `same` and `valid`, or
    /// from `explicit` `[before, after]` padding when given (the output is
    /// the number of whole windows, as ONNX computes it without `ceil_mode`).
    public init(
        inputSize: Int, window: Int, stride: Int, dilation: Int = 1, padding: Padding, explicit: [Int]? = nil
    ) {
        let effectiveWindow = (window - 1) * dilation + 1
        if let explicit, explicit.count == 2 {
            let padded = inputSize + explicit[0] + explicit[1]
            outputSize = padded < effectiveWindow ? 0 : (padded - effectiveWindow) / stride + 1
            padBefore = explicit[0]
        } else {
            switch padding {
            case .valid:
                outputSize = inputSize < effectiveWindow ? 0 : (inputSize - effectiveWindow) / stride + 1
                padBefore = 0
            case .same:
                outputSize = (inputSize + stride - 1) / stride
                let total = max(0, (outputSize - 1) * stride + effectiveWindow - inputSize)
                padBefore = total / 2
            }
        }
        touchesPadding = padBefore > 0 || (outputSize - 1) * stride + effectiveWindow - padBefore > inputSize
    }
}
