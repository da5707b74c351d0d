/// The messages of `onnx.proto` that Kiln imports, as plain values: the fields the importer
/// reads and a few beside them (others are skipped when decoding). Names follow the schema's; the
/// field numbers are in `ONNXProto+Decoding.swift`.
///
/// Reading these few messages directly keeps a protobuf library, and its build time, out of
/// Kiln; the wire format is stable and the schema only grows.
enum ONNXProto {
    /// `ModelProto`: the file's top-level message.
    struct Model: Sendable {
        var irVersion: Int64 = 0
        var producerName = ""
        var opsetImport: [OperatorSetID] = []
        /// The main graph, or `nil` when the file has none.
        var graph: Graph?
    }

    /// `OperatorSetIdProto`: an operator domain and its version.
    struct OperatorSetID: Sendable {
        /// Empty or `ai.onnx` for the default domain.
        var domain = ""
        var version: Int64 = 0
    }

    /// `GraphProto`: nodes in topological order, with constant initializers.
    struct Graph: Sendable {
        var name = ""
        var node: [Node] = []
        var initializer: [Tensor] = []
        var input: [ValueInfo] = []
        var output: [ValueInfo] = []
    }

    /// `NodeProto`: one operator application.
    struct Node: Sendable {
        var name = ""
        var opType = ""
        var domain = ""
        var input: [String] = []
        var output: [String] = []
        var attribute: [Attribute] = []
    }

    /// `AttributeProto`: a named operator parameter; which value field is set depends on `type`.
    struct Attribute: Sendable {
        /// `AttributeProto.AttributeType`, the kinds Kiln reads.
        enum Kind: Int32, Sendable {
            case undefined = 0, float = 1, int = 2, string = 3, tensor = 4, graph = 5, floats = 6, ints = 7, strings = 8
            case tensors = 9, graphs = 10
        }

        var name = ""
        /// What the attribute holds; `.undefined` also for kinds Kiln does not read (sparse tensors, type protos).
        var type = Kind.undefined
        var f: Float = 0
        var i: Int64 = 0
        var s: [UInt8] = []
        var t: Tensor?
        var floats: [Float] = []
        var ints: [Int64] = []
        var strings: [[UInt8]] = []
    }

    /// `TensorProto`: a constant's dimensions, element type and values, from one of the typed fields,
    /// `raw_data` (little-endian), or an external file.
    struct Tensor: Sendable {
        /// `TensorProto.DataLocation`.
        enum DataLocation: Int32, Sendable {
            case `default` = 0, external = 1
        }

        var name = ""
        var dims: [Int64] = []
        /// A `TensorProto.DataType` code (``ONNXDataType``).
        var dataType: Int32 = 0
        var floatData: [Float] = []
        var int32Data: [Int32] = []
        var int64Data: [Int64] = []
        var doubleData: [Double] = []
        var uint64Data: [UInt64] = []
        /// The values as little-endian bytes, or `nil` when the tensor uses a typed field.
        var rawData: [UInt8]?
        /// `location`, `offset` and `length` of externally stored data.
        var externalData: [StringStringEntry] = []
        var dataLocation = DataLocation.default
    }

    /// `StringStringEntryProto`: a key and its value.
    struct StringStringEntry: Sendable {
        var key = ""
        var value = ""
    }

    /// `ValueInfoProto`: a graph input's or output's name and type.
    struct ValueInfo: Sendable {
        var name = ""
        var type = TypeInfo()
    }

    /// `TypeProto`, of which Kiln reads the tensor type.
    struct TypeInfo: Sendable {
        var tensorType = TensorType()
    }

    /// `TypeProto.Tensor`: an element type and a shape.
    struct TensorType: Sendable {
        /// A `TensorProto.DataType` code.
        var elemType: Int32 = 0
        var shape = TensorShape()
    }

    /// `TensorShapeProto`.
    struct TensorShape: Sendable {
        var dim: [Dimension] = []
    }

    /// `TensorShapeProto.Dimension`: a size, or a symbolic name.
    struct Dimension: Sendable {
        /// The size, when the dimension is static.
        var dimValue: Int64?
        /// The symbol, when it is named (`"batch"`).
        var dimParam = ""
    }
}
