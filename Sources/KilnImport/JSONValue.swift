/// A parsed JSON value (RFC 8259), enough for safetensors headers.
///
/// Foundation's `JSONSerialization` would also do, but it bridges numbers
/// through `NSNumber` differently across platforms and accepts duplicate
/// keys silently; this parser is strict and behaves the same everywhere.
indirect enum JSONValue {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    /// A number written without fraction or exponent that fits in `Int`.
    case integer(Int)
    /// Any other number; its value is never needed.
    case otherNumber
    case boolean(Bool)
    case null

    /// Why a text did not parse, without the file name (the caller adds it).
    struct SyntaxError: Error {
        var reason: String
    }

    /// Parses `text` as exactly one JSON value, allowing surrounding whitespace.
    static func parse(_ text: ArraySlice<UInt8>) throws(SyntaxError) -> JSONValue {
        var parser = Parser(text: Array(text))
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.position == parser.text.count else {
            throw parser.failure("unexpected text after the value")
        }
        return value
    }

    /// `text` as a JSON string literal, quotes included.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                let digits = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    private struct Parser {
        let text: [UInt8]
        var position = 0

        // Headers nest three levels; the limit keeps hostile input off the stack.
        static let maximumDepth = 64

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

        mutating func expect(_ byte: UInt8, _ description: String) throws(SyntaxError) {
            skipWhitespace()
            guard current == byte else { throw failure("expected \(description)") }
            position += 1
        }

        mutating func value(depth: Int) throws(SyntaxError) -> JSONValue {
            guard depth < Self.maximumDepth else { throw failure("nested too deeply") }
            skipWhitespace()
            guard let byte = current else { throw failure("unexpected end of text") }
            switch byte {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default:
                if consume("true") { return .boolean(true) }
                if consume("false") { return .boolean(false) }
                if consume("null") { return .null }
                throw failure("unexpected character")
            }
        }

        mutating func consume(_ word: String) -> Bool {
            let utf8 = Array(word.utf8)
            guard text.count - position >= utf8.count,
                text[position..<(position + utf8.count)].elementsEqual(utf8)
            else { return false }
            position += utf8.count
            return true
        }

        mutating func object(depth: Int) throws(SyntaxError) -> JSONValue {
            position += 1
            var members: [(key: String, value: JSONValue)] = []
            var seen: Set<String> = []
            skipWhitespace()
            if current == UInt8(ascii: "}") {
                position += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { throw failure("expected a string key") }
                let key = try string()
                guard seen.insert(key).inserted else {
                    throw failure("duplicate key \(JSONValue.quoted(key))")
                }
                try expect(UInt8(ascii: ":"), "':'")
                members.append((key, try value(depth: depth + 1)))
                skipWhitespace()
                guard let byte = current else { throw failure("unterminated object") }
                position += 1
                if byte == UInt8(ascii: "}") { return .object(members) }
                guard byte == UInt8(ascii: ",") else { throw failure("expected ',' or '}'") }
            }
        }

        mutating func array(depth: Int) throws(SyntaxError) -> JSONValue {
            position += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if current == UInt8(ascii: "]") {
                position += 1
                return .array(elements)
            }
            while true {
                elements.append(try value(depth: depth + 1))
                skipWhitespace()
                guard let byte = current else { throw failure("unterminated array") }
                position += 1
                if byte == UInt8(ascii: "]") { return .array(elements) }
                guard byte == UInt8(ascii: ",") else { throw failure("expected ',' or ']'") }
            }
        }

        mutating func digits() -> Int {
            let start = position
            while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                position += 1
            }
            return position - start
        }

        mutating func number() throws(SyntaxError) -> JSONValue {
            let start = position
            if current == UInt8(ascii: "-") { position += 1 }
            let integerStart = position
            let integerDigits = digits()
            guard integerDigits > 0 else { throw failure("expected digits") }
            guard integerDigits == 1 || text[integerStart] != UInt8(ascii: "0") else {
                throw failure("numbers may not have leading zeros")
            }
            var isInteger = true
            if current == UInt8(ascii: ".") {
                position += 1
                guard digits() > 0 else { throw failure("expected digits after '.'") }
                isInteger = false
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                position += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
                guard digits() > 0 else { throw failure("expected exponent digits") }
                isInteger = false
            }
            guard isInteger,
                let value = Int(String(decoding: text[start..<position], as: UTF8.self))
            else {
                return .otherNumber
            }
            return .integer(value)
        }

        mutating func string() throws(SyntaxError) -> String {
            position += 1
            var scalars = String.UnicodeScalarView()
            var literalStart = position
            func flush(_ end: Int) {
                scalars.append(
                    contentsOf: String(decoding: text[literalStart..<end], as: UTF8.self)
                        .unicodeScalars)
            }
            while true {
                guard let byte = current else { throw failure("unterminated string") }
                if byte == UInt8(ascii: "\"") {
                    flush(position)
                    position += 1
                    return String(scalars)
                }
                guard byte >= 0x20 else { throw failure("control character in a string") }
                guard byte == UInt8(ascii: "\\") else {
                    position += 1
                    continue
                }
                flush(position)
                position += 1
                guard let escape = current else { throw failure("unterminated string") }
                position += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{8}")
                case UInt8(ascii: "f"): scalars.append("\u{C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"): scalars.append(try escapedScalar())
                default: throw failure("invalid escape in a string")
                }
                literalStart = position
            }
        }

        /// The scalar after `\u`, combining a UTF-16 surrogate pair when there is one.
        mutating func escapedScalar() throws(SyntaxError) -> Unicode.Scalar {
            let first = try hexQuad()
            if (0xD800..<0xDC00).contains(first) {
                guard consume("\\u") else { throw failure("unpaired surrogate escape") }
                let second = try hexQuad()
                guard (0xDC00..<0xE000).contains(second) else {
                    throw failure("unpaired surrogate escape")
                }
                let combined = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                guard let scalar = Unicode.Scalar(combined) else { throw failure("invalid escape") }
                return scalar
            }
            guard let scalar = Unicode.Scalar(first) else {
                throw failure("unpaired surrogate escape")
            }
            return scalar
        }

        mutating func hexQuad() throws(SyntaxError) -> UInt32 {
            guard text.count - position >= 4 else {
                throw failure("expected four hex digits after \\u")
            }
            var value: UInt32 = 0
            for byte in text[position..<(position + 4)] {
                guard let digit = Character(Unicode.Scalar(byte)).hexDigitValue else {
                    throw failure("expected four hex digits after \\u")
                }
                value = value << 4 | UInt32(digit)
            }
            position += 4
            return value
        }
    }
}
