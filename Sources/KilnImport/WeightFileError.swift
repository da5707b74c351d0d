import Foundation

/// A weight file that is missing, unreadable, malformed or unsupported.
///
/// The message always starts with the file's path as it was given, so it
/// can be shown to the user as is:
/// `weights.safetensors: header length 9999 exceeds the file size 120; …`.
public struct WeightFileError: LocalizedError, Hashable, Sendable, CustomStringConvertible {
    /// The full, user-facing explanation, starting with the file's path.
    public var message: String

    /// Creates an error with a full, user-facing message.
    public init(message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }

    /// The message, for `localizedDescription`.
    public var errorDescription: String? { description }
}

extension WeightFileError {
    /// An error about `source`: the message is `source: problem`.
    init(_ source: String, _ problem: String) {
        self.init(message: "\(source): \(problem)")
    }

    /// The file ended before a structure that should be there.
    static func truncated(_ source: String, reading what: String, at offset: Int) -> WeightFileError
    {
        WeightFileError(
            source,
            "the file ends inside the \(what) at byte \(offset); the file is truncated or corrupt")
    }

    /// A key that is not in the file: the nearest keys by spelling are suggested first (so a typo's
    /// fix is never cut off the list), then a few others.
    static func missingKey(_ key: String, in source: String, available: [String]) -> WeightFileError
    {
        if available.isEmpty {
            return WeightFileError(source, "no tensor named '\(key)'; the file holds no tensors")
        }
        let distances = Dictionary(available.map { ($0, editDistance(key, $0)) }, uniquingKeysWith: { a, _ in a })
        let nearest = available.filter { (distances[$0] ?? .max) <= max(2, key.count / 3) }
            .sorted { (distances[$0] ?? 0, $0) < (distances[$1] ?? 0, $1) }
        let suggestion = nearest.first.map { "did you mean '\($0)'? " } ?? ""
        let ordered = nearest + available.filter { !nearest.contains($0) }
        let shown = ordered.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
        let more = available.count > 5 ? ", … (\(available.count) in all)" : ""
        return WeightFileError(source, "no tensor named '\(key)'; \(suggestion)available keys: \(shown)\(more)")
    }

    /// The Levenshtein distance between `a` and `b`: single-character insertions, deletions and substitutions.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let (a, b) = (Array(a), Array(b))
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1] + [Int](repeating: 0, count: b.count)
            for (j, y) in b.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
