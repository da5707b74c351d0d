import KilnIR

/// The dictionary at the start of a `.npy` file: element type and shape.
struct NumPyHeader {
    var dtype: DType
    var shape: [Int]

    /// The `descr` NumPy writes for `dtype`.
    static func descriptor(for dtype: DType) -> String {
        switch dtype {
        case .float32: "<f4"
        case .float16: "<f2"
        case .int8: "|i1"
        case .int32: "<i4"
        }
    }

    /// Spellings accepted on read: byte order does not apply to one-byte integers.
    static let acceptedDescriptors: [String: DType] = [
        "<f4": .float32, "<f2": .float16, "|i1": .int8, "<i1": .int8, "i1": .int8, "<i4": .int32,
    ]

    static var supportedList: String {
        DType.allCases.map { "'\(descriptor(for: $0))' (\($0.rawValue))" }.joined(separator: ", ")
    }

    init(dtype: DType, shape: [Int]) {
        self.dtype = dtype
        self.shape = shape
    }

    /// Interprets the header text of the file `source`.
    init(parsing text: ArraySlice<UInt8>, source: String) throws {
        let literal: PythonLiteral
        do {
            literal = try PythonLiteral.parse(Array(text))
        } catch {
            throw WeightFileError(
                source,
                "the .npy header is not a valid dictionary (\(error.reason)); the file is corrupt")
        }
        guard case .dictionary(let entries) = literal else {
            throw WeightFileError(
                source, "the .npy header is not a dictionary; the file is corrupt")
        }
        var fields: [String: PythonLiteral] = [:]
        for (key, value) in entries {
            guard case .string(let name) = key else {
                throw WeightFileError(
                    source, "the .npy header has a key that is not a string; the file is corrupt")
            }
            guard ["descr", "fortran_order", "shape"].contains(name) else {
                throw WeightFileError(
                    source, "the .npy header has an unexpected key '\(name)'; the file is corrupt")
            }
            guard fields.updateValue(value, forKey: name) == nil else {
                throw WeightFileError(
                    source, "the .npy header repeats the key '\(name)'; the file is corrupt")
            }
        }
        dtype = try Self.dtype(of: fields["descr"], source: source)
        guard let fortranOrder = fields["fortran_order"] else {
            throw WeightFileError(
                source, "the .npy header has no 'fortran_order'; the file is corrupt")
        }
        guard case .boolean(let isColumnMajor) = fortranOrder else {
            throw WeightFileError(
                source,
                "the .npy header's 'fortran_order' is not True or False; the file is corrupt")
        }
        guard !isColumnMajor else {
            throw WeightFileError(
                source,
                "the array is stored in Fortran (column-major) order, which is not supported; "
                    + "save np.ascontiguousarray(array) instead")
        }
        guard case .sequence(let dimensions)? = fields["shape"] else {
            throw WeightFileError(
                source, "the .npy header has no 'shape' tuple; the file is corrupt")
        }
        shape = try dimensions.map { dimension in
            guard case .integer(let size) = dimension, size >= 0 else {
                throw WeightFileError(
                    source,
                    "the .npy header's 'shape' holds something other than sizes; the file is corrupt"
                )
            }
            return size
        }
    }

    private static func dtype(of descr: PythonLiteral?, source: String) throws -> DType {
        switch descr {
        case .string(let name):
            if let dtype = acceptedDescriptors[name] { return dtype }
            let advice = "Kiln reads \(supportedList); convert first, e.g. array.astype(np.float32)"
            if name.hasPrefix(">") {
                throw WeightFileError(
                    source, "big-endian dtype '\(name)' is not supported; \(advice)")
            }
            if name.dropFirst().hasPrefix("O") || name == "O" {
                throw WeightFileError(
                    source, "object arrays (dtype '\(name)') are not supported; \(advice)")
            }
            throw WeightFileError(source, "unsupported dtype '\(name)'; \(advice)")
        case .sequence:
            throw WeightFileError(
                source,
                "structured (record) arrays are not supported; Kiln reads plain arrays of \(supportedList)"
            )
        case nil:
            throw WeightFileError(source, "the .npy header has no 'descr'; the file is corrupt")
        default:
            throw WeightFileError(
                source, "the .npy header's 'descr' is not a dtype string; the file is corrupt")
        }
    }

    /// The header dictionary exactly as NumPy's `np.save` spells it.
    var text: String {
        let descr = Self.descriptor(for: dtype)
        let sizes = shape.map(String.init)
        let tuple = sizes.count == 1 ? "(\(sizes[0]),)" : "(" + sizes.joined(separator: ", ") + ")"
        return "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(tuple), }"
    }
}
