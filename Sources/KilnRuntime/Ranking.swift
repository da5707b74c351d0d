/// The largest entries of a score vector: a classifier's top classes.
public enum Ranking {
    /// The `k` largest of `scores` with their indices, largest first; equal scores keep index
    /// order, and NaN ranks below every number.
    public static func top(_ k: Int, of scores: [Float]) -> [(index: Int, score: Float)] {
        guard k > 0 else { return [] }
        let ranked = scores.indices.sorted { a, b in
            let (x, y) = (scores[a], scores[b])
            if x.isNaN != y.isNaN { return y.isNaN }
            return x != y && !x.isNaN ? x > y : a < b
        }
        return ranked.prefix(k).map { ($0, scores[$0]) }
    }
}
