/// How far the importers unroll recurrence: loops and recurrent layers become one step of layers
/// per time step at import.
enum RecurrentUnrolling {
    /// The most steps unrolled in one model, every loop and recurrent layer (and each direction of
    /// a bidirectional one) together: more would make a graph too large to compile in reasonable
    /// time, and a damaged file could otherwise ask for millions.
    static let maximumSteps = 4096
}
