import Foundation
import KilnIR

/// A tensor whose values are known at import: an initializer, a `Constant`
/// node, or integer arithmetic on them folded at import.
enum ONNXConstant: Hashable, Sendable {
    /// Real values (ONNX float, float16 and double tensors, widened or narrowed to float32).
    case floats(shape: [Int], values: [Float])
    /// Integers (int64, int32, int8, uint8 and bool tensors): shapes, axes, indices.
    case integers(StaticTensor)

    /// The dimensions.
    var shape: [Int] {
        switch self {
        case .floats(let shape, _): shape
        case .integers(let tensor): tensor.shape
        }
    }

    /// The integer values, or `nil` for real values.
    var integers: StaticTensor? {
        if case .integers(let tensor) = self { return tensor }
        return nil
    }

    /// The values as real numbers.
    var floats: [Float] {
        switch self {
        case .floats(_, let values): values
        case .integers(let tensor): tensor.values.map(Float.init)
        }
    }
}

/// ONNX `TensorProto.DataType` codes.
enum ONNXDataType: Int32 {
    case float = 1, uint8 = 2, int8 = 3, uint16 = 4, int16 = 5, int32 = 6, int64 = 7, string = 8, bool = 9
    case float16 = 10, double = 11, uint32 = 12, uint64 = 13, bfloat16 = 16

    /// The name ONNX's documentation uses.
    static func name(of code: Int32) -> String {
        ONNXDataType(rawValue: code).map { "\($0)".uppercased() } ?? "type \(code)"
    }
}

extension ONNXModel {
    /// The values of `tensor`, from its typed fields, raw bytes or external file.
    func constant(_ tensor: ONNXProto.Tensor) throws(ONNXProblem) -> ONNXConstant {
        let shape = tensor.dims.map { Int(clamping: $0) }
        guard shape.allSatisfy({ (0...Shape.maximumDimension).contains($0) }), let count = Shape(shape).checkedElementCount,
            count <= Self.maximumConstantElements
        else {
            throw ONNXProblem("tensor '\(tensor.name)' has dimensions \(tensor.dims), negative or too large")
        }
        guard let type = ONNXDataType(rawValue: tensor.dataType) else {
            throw ONNXProblem("tensor '\(tensor.name)' has unknown data type \(tensor.dataType)")
        }
        let raw = try rawBytes(of: tensor)
        func expect(_ found: Int) throws(ONNXProblem) {
            guard found == count else {
                throw ONNXProblem("tensor '\(tensor.name)' holds \(found) values but its dimensions \(shape) need \(count)")
            }
        }
        func words(_ size: Int) throws(ONNXProblem) -> [UInt64] {
            guard let raw else { return [] }
            try expect(raw.count / size)
            guard raw.count == count * size else {
                throw ONNXProblem("tensor '\(tensor.name)' holds \(raw.count) bytes, not \(count) values of \(size) bytes")
            }
            return stride(from: 0, to: raw.count, by: size).map { start in
                var word: UInt64 = 0
                for byte in 0..<size { word |= UInt64(raw[start + byte]) << (8 * byte) }
                return word
            }
        }
        switch type {
        case .float:
            if raw != nil { return .floats(shape: shape, values: try words(4).map { Float(bitPattern: UInt32($0)) }) }
            try expect(tensor.floatData.count)
            return .floats(shape: shape, values: tensor.floatData)
        case .double:
            if raw != nil { return .floats(shape: shape, values: try words(8).map { Float(Double(bitPattern: $0)) }) }
            try expect(tensor.doubleData.count)
            return .floats(shape: shape, values: tensor.doubleData.map { Float($0) })
        case .float16:
            let bits = raw != nil ? try words(2).map { UInt16($0) } : tensor.int32Data.map { UInt16(truncatingIfNeeded: $0) }
            try expect(bits.count)
            return .floats(shape: shape, values: bits.map { Float(Float16(bitPattern: $0)) })
        case .int64:
            if raw != nil { return .integers(StaticTensor(shape: shape, values: try words(8).map { Int(Int64(bitPattern: $0)) })) }
            try expect(tensor.int64Data.count)
            return .integers(StaticTensor(shape: shape, values: tensor.int64Data.map { Int($0) }))
        case .int32, .int16, .int8, .uint8, .uint16, .bool:
            let size = [.int32: 4, .int16: 2, .uint16: 2][type] ?? 1
            let signed = [.int32, .int16, .int8].contains(type)
            let values: [Int]
            if raw != nil {
                values = try words(size).map { word in
                    guard signed else { return Int(word) }
                    let shift = UInt64(64 - 8 * size)
                    return Int(Int64(bitPattern: word << shift) >> Int64(shift))
                }
            } else {
                values = tensor.int32Data.map(Int.init)
            }
            try expect(values.count)
            return .integers(StaticTensor(shape: shape, values: values))
        default:
            throw ONNXProblem("tensor '\(tensor.name)' has type \(ONNXDataType.name(of: tensor.dataType)), which Kiln does not import")
        }
    }

    /// The largest constant read: 2³¹ elements, beyond any model that fits in memory here.
    static let maximumConstantElements = 1 << 31

    /// The tensor's raw little-endian bytes, from `raw_data` or its external file; `nil` when it uses typed fields.
    private func rawBytes(of tensor: ONNXProto.Tensor) throws(ONNXProblem) -> [UInt8]? {
        if tensor.dataLocation == .external {
            return try externalBytes(of: tensor)
        }
        return tensor.rawData
    }

    /// Reads the byte range an external tensor names, from a file beside the model.
    private func externalBytes(of tensor: ONNXProto.Tensor) throws(ONNXProblem) -> [UInt8] {
        let fields = Dictionary(tensor.externalData.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        guard let location = fields["location"], !location.isEmpty else {
            throw ONNXProblem("tensor '\(tensor.name)' is stored externally but names no file")
        }
        // Only files in the model's folder or below: a model must not read arbitrary files.
        let components = location.split(separator: "/", omittingEmptySubsequences: false)
        guard !location.hasPrefix("/"), !components.contains(".."), let directory else {
            throw ONNXProblem("tensor '\(tensor.name)' is stored in '\(location)', outside the model's folder")
        }
        let url = directory.appendingPathComponent(location)
        let offset = Int(fields["offset"] ?? "0") ?? -1
        let length = fields["length"].map { Int($0) ?? -1 }
        guard offset >= 0, (length ?? 0) >= 0 else {
            throw ONNXProblem("tensor '\(tensor.name)' has external offset \(fields["offset"] ?? "") or length \(fields["length"] ?? "") that is not a size")
        }
        let bytes: [UInt8]
        do {
            bytes = try FileIO.readBytes(of: url)
        } catch {
            throw ONNXProblem("tensor '\(tensor.name)': cannot read its external data file '\(location)' (\(error))")
        }
        let end = length.map { offset + $0 } ?? bytes.count
        guard offset <= end, end <= bytes.count else {
            throw ONNXProblem(
                "tensor '\(tensor.name)' reads bytes \(offset)..<\(end) of '\(location)', which has \(bytes.count)")
        }
        return Array(bytes[offset..<end])
    }
}

/// `values` of `shape` with its axes reordered: result axis `i` is input axis `permutation[i]`.
func permuted<T>(_ values: [T], shape: [Int], _ permutation: [Int]) -> [T] {
    let inputStrides = Shape(shape).strides
    let resultShape = permutation.map { shape[$0] }
    let resultStrides = Shape(resultShape).strides
    return (0..<values.count).map { index in
        var (rest, source) = (index, 0)
        for axis in resultShape.indices {
            source += rest / resultStrides[axis] * inputStrides[permutation[axis]]
            rest %= resultStrides[axis]
        }
        return values[source]
    }
}

/// The block of `values` (of `shape`) starting at `begin` with extent `size` on each axis.
func sliced<T>(_ values: [T], shape: [Int], begin: [Int], size: [Int]) -> [T] {
    let strides = Shape(shape).strides
    let resultStrides = Shape(size).strides
    return (0..<size.reduce(1, *)).map { index in
        var (rest, source) = (index, 0)
        for axis in size.indices {
            source += (rest / resultStrides[axis] + begin[axis]) * strides[axis]
            rest %= resultStrides[axis]
        }
        return values[source]
    }
}
