/// Three layers run together, band by band: an optional 1×1 expansion, a depthwise convolution
/// and a 1×1 projection (MobileNetV2's inverted residual block).
///
/// Run one after the other, the expansion writes a tensor several times wider than the block's
/// input and output, the depthwise layer reads it back and writes another, and the projection
/// reads that: on MobileNetV2 the two intermediates are 4.8 MB at the first blocks, far beyond
/// the core's cache, and at two threads each core reads what the other wrote. Run in bands, each
/// band of `bandRows` depthwise output rows is computed from the expansion rows its windows need
/// into a small window of the arena, its depthwise rows into a second one, and projected at once:
/// the intermediates stay in the core's cache and never exist whole, so the arena shrinks too.
///
/// The depthwise output rows are cut into ``slots`` pieces, piece `i` the rows
/// `i · H / slots ..< (i + 1) · H / slots`; threads take whole pieces, and a call that starts at
/// piece `i` works in slot `i` of each intermediate's storage (``Graph/storageByteCount(of:)``):
/// ``slots`` windows of expansion rows, ``slots`` bands of depthwise rows.
public struct BandedChain: Hashable, Sendable, Codable {
    /// The 1×1 expansion's node index (`depthwise - 1`), if the chain has one.
    public var expand: Int?
    /// The depthwise convolution's node index.
    public var depthwise: Int
    /// The 1×1 projection's node index (`depthwise + 1`).
    public var project: Int
    /// Depthwise output rows computed per band.
    public var bandRows: Int
    /// Depthwise output rows of the largest piece.
    public var slotRows: Int
    /// Pieces the rows are cut into, and slots in each intermediate's storage.
    public var slots: Int

    /// Creates a chain; ``Graph/bandedChain(depthwise:minimumIntermediateBytes:)`` chooses the band sizes.
    public init(expand: Int?, depthwise: Int, project: Int, bandRows: Int, slotRows: Int, slots: Int) {
        self.expand = expand
        self.depthwise = depthwise
        self.project = project
        self.bandRows = bandRows
        self.slotRows = slotRows
        self.slots = slots
    }

    /// The chain's nodes in execution order.
    public var nodes: [Int] { (expand.map { [$0] } ?? []) + [depthwise, project] }

    /// The first depthwise output row of piece `piece` of a layer of `outputRows` rows.
    public func firstRow(ofPiece piece: Int, outputRows: Int) -> Int { piece * outputRows / max(slots, 1) }
}

/// The sizes a ``BandedChain`` works with, read from its depthwise layer.
public struct BandGeometry: Hashable, Sendable {
    /// The depthwise layer's input rows and columns (the expansion's output).
    public var inputRows: Int
    /// Columns of the depthwise input.
    public var inputColumns: Int
    /// Depthwise output rows and columns.
    public var outputRows: Int
    /// Columns of the depthwise output.
    public var outputColumns: Int
    /// Channels of the depthwise layer (input and output).
    public var channels: Int
    /// Rows between windows.
    public var stride: Int
    /// Padding rows above the input.
    public var padBefore: Int
    /// Input rows one window spans: `(kernel height − 1) · dilation + 1`.
    public var windowSpan: Int
    /// Bytes of one element.
    public var elementBytes: Int

    /// Bytes of one row of the depthwise input.
    public var inputRowBytes: Int { inputColumns * channels * elementBytes }
    /// Bytes of one row of the depthwise output.
    public var outputRowBytes: Int { outputColumns * channels * elementBytes }

    /// The input rows that output rows `rows` read, clipped to the input.
    public func inputRows(for rows: Range<Int>) -> Range<Int> {
        guard !rows.isEmpty else { return 0..<0 }
        let first = max(0, rows.lowerBound * stride - padBefore)
        let end = min(inputRows, (rows.upperBound - 1) * stride - padBefore + windowSpan)
        return first..<max(first, end)
    }

    /// The most input rows a band of `bandRows` output rows reads.
    public func windowRows(bandRows: Int) -> Int { min(inputRows, (bandRows - 1) * stride + windowSpan) }

    /// Bytes of one slot of expansion rows for bands of `bandRows`, rounded up to `alignment`.
    public func windowBytes(bandRows: Int, alignment: Int = 64) -> Int {
        Self.rounded(windowRows(bandRows: bandRows) * inputRowBytes, to: alignment)
    }

    /// Bytes of one slot of depthwise output rows for bands of `bandRows`, rounded up to `alignment`.
    public func bandBytes(bandRows: Int, alignment: Int = 64) -> Int {
        Self.rounded(bandRows * outputRowBytes, to: alignment)
    }

    private static func rounded(_ bytes: Int, to alignment: Int) -> Int {
        let step = max(alignment, 1)
        return (bytes + step - 1) / step * step
    }
}
