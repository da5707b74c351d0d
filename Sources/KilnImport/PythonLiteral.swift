/// The small subset of Python literal syntax that `.npy` headers are written in.
///
/// NumPy writes the header with `repr()` of a dict such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`, so a
/// tiny recursive-descent parser is enough; nothing is evaluated.
indirect enum PythonLiteral {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case none
    /// A tuple or a list; NumPy's structured `descr` uses lists.
    case sequence([PythonLiteral])
    case dictionary([(key: PythonLiteral, value: PythonLiteral)])

    /// Why a header did not parse, without the file name (the caller adds it).
    struct SyntaxError: Error {
        var reason: String
    }

    /// Parses `text` as exactly one literal, allowing surrounding whitespace.
    static func parse(_ text: [UInt8]) throws(SyntaxError) -> PythonLiteral {
        var parser = Parser(text: text)
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.position == text.count else {
            throw parser.failure("unexpected text after the dictionary")
        }
        return value
    }

    private struct Parser {
        let text: [UInt8]
        var position = 0

        // Real headers nest two levels at most; the limit keeps hostile input off the stack.
        static let maximumDepth = 32

        init(text: [UInt8]) { self.text = text }

        func failure(_ reason: String) -> SyntaxError {
            SyntaxError(reason: "\(reason) at header offset \(position)")
        }

        var current: UInt8? { position < text.count ? text[position] : nil }

        mutating func skipWhitespace() {
            while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
                position += 1
            }
        }

        mutating func value(depth: Int) throws(SyntaxError) -> PythonLiteral {
            guard depth < Self.maximumDepth else { throw failure("literal nested too deeply") }
            skipWhitespace()
            guard let byte = current else { throw failure("header ends where a value should be") }
            switch byte {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "("):
                return .sequence(try sequence(closing: UInt8(ascii: ")"), depth: depth))
            case UInt8(ascii: "["):
                return .sequence(try sequence(closing: UInt8(ascii: "]"), depth: depth))
            case UInt8(ascii: "{"):
                return try dictionary(depth: depth)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return .integer(try integer())
            default:
                if consume(word: "True") { return .boolean(true) }
                if consume(word: "False") { return .boolean(false) }
                if consume(word: "None") { return .none }
                throw failure("unexpected character '\(String(decoding: [byte], as: UTF8.self))'")
            }
        }

        mutating func consume(word: String) -> Bool {
            let utf8 = Array(word.utf8)
            guard position + utf8.count <= text.count,
                Array(text[position..<(position + utf8.count)]) == utf8
            else {
                return false
            }
            position += utf8.count
            return true
        }

        mutating func string() throws(SyntaxError) -> String {
            guard let quote = current else { throw failure("expected a string") }
            position += 1
            var bytes: [UInt8] = []
            while true {
                guard let byte = current else { throw failure("unterminated string") }
                position += 1
                if byte == quote { break }
                if byte == UInt8(ascii: "\\") {
                    guard let escaped = current else { throw failure("unterminated string") }
                    position += 1
                    switch escaped {
                    case UInt8(ascii: "n"): bytes.append(0x0A)
                    case UInt8(ascii: "t"): bytes.append(0x09)
                    case UInt8(ascii: "r"): bytes.append(0x0D)
                    default: bytes.append(escaped)
                    }
                } else {
                    bytes.append(byte)
                }
            }
            return String(decoding: bytes, as: UTF8.self)
        }

        mutating func integer() throws(SyntaxError) -> Int {
            var negative = false
            if current == UInt8(ascii: "-") {
                negative = true
                position += 1
            }
            var value = 0
            var digits = 0
            while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = shifted.addingReportingOverflow(
                    Int(byte - UInt8(ascii: "0")))
                guard !overflow1, !overflow2 else { throw failure("integer too large") }
                value = sum
                digits += 1
                position += 1
            }
            guard digits > 0 else { throw failure("expected digits") }
            // Python 2 wrote long integers with a trailing L, e.g. (3L, 4L).
            if current == UInt8(ascii: "L") { position += 1 }
            return negative ? -value : value
        }

        mutating func sequence(closing: UInt8, depth: Int) throws(SyntaxError) -> [PythonLiteral] {
            position += 1
            var elements: [PythonLiteral] = []
            while true {
                skipWhitespace()
                if current == closing {
                    position += 1
                    return elements
                }
                elements.append(try value(depth: depth + 1))
                skipWhitespace()
                if current == UInt8(ascii: ",") {
                    position += 1
                } else if current == closing {
                    position += 1
                    return elements
                } else {
                    throw failure("expected ',' or the end of the sequence")
                }
            }
        }

        mutating func dictionary(depth: Int) throws(SyntaxError) -> PythonLiteral {
            position += 1
            var entries: [(key: PythonLiteral, value: PythonLiteral)] = []
            while true {
                skipWhitespace()
                if current == UInt8(ascii: "}") {
                    position += 1
                    return .dictionary(entries)
                }
                let key = try value(depth: depth + 1)
                skipWhitespace()
                guard current == UInt8(ascii: ":") else {
                    throw failure("expected ':' after a dictionary key")
                }
                position += 1
                entries.append((key, try value(depth: depth + 1)))
                skipWhitespace()
                if current == UInt8(ascii: ",") {
                    position += 1
                } else if current == UInt8(ascii: "}") {
                    position += 1
                    return .dictionary(entries)
                } else {
                    throw failure("expected ',' or '}' in the dictionary")
                }
            }
        }
    }
}
