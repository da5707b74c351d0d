import KilnIR

/// The build-time half of Winograd's F(2×2, 3×3): each 3×3 filter transformed to the 4×4
/// `U = G g Gᵀ`, `G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]`.
enum WinogradFilter {
    /// Positions of the 4×4 transform: the matrix products a ``WinogradConv2DKernel`` runs per tile.
    static let positions = 16

    /// `G g Gᵀ` for one 3×3 filter `g` (row-major), row-major; computed in double precision and
    /// rounded once.
    static func transformed(_ g: [Float]) -> [Float] {
        func rows(_ h: [Double]) -> [Double] { [h[0], (h[0] + h[1] + h[2]) / 2, (h[0] - h[1] + h[2]) / 2, h[2]] }
        let values = g.map(Double.init)
        // G applied down each column of g, then along each row of the result.
        let columns = (0..<3).map { column in rows([values[column], values[3 + column], values[6 + column]]) }
        return (0..<4).flatMap { row in rows(columns.map { $0[row] }) }.map(Float.init)
    }

    /// The 16 `[O, C]` matrices of an OHWI `[O, 3, 3, C]` float filter: `matrices[ξ][o · C + c]`
    /// is position `ξ` of channel pair `(o, c)`'s transformed filter.
    static func matrices(_ filter: TensorData) -> [[Float]] {
        let (units, channels) = (filter.shape[0], filter.shape[3])
        let values = filter.floats()
        var matrices = Array(repeating: [Float](repeating: 0, count: units * channels), count: positions)
        for unit in 0..<units {
            for channel in 0..<channels {
                let g = (0..<9).map { values[(unit * 9 + $0) * channels + channel] }
                for (position, u) in transformed(g).enumerated() { matrices[position][unit * channels + channel] = u }
            }
        }
        return matrices
    }
}

extension PackedFilter {
    /// An OHWI `[O, 3, 3, C]` float filter transformed for Winograd's F(2×2, 3×3) and packed as
    /// 16 `[O, C]` filters one after another (position `ξ` from element `ξ · O · C`), each laid
    /// out as ``PackedFilter/init(_:quantization:laneWidth:)`` lays out one, so every position
    /// shares ``tiles``.
    init(winograd filter: TensorData, laneWidth: Int) {
        let (units, channels) = (filter.shape[0], filter.shape[3])
        let packed = WinogradFilter.matrices(filter).map {
            PackedFilter(TensorData($0, shape: [units, channels]), quantization: nil, laneWidth: laneWidth)
        }
        self.init(
            tiles: packed.first?.tiles ?? [], depth: channels, dtype: .float32, bytes: packed.flatMap(\.bytes), scales: nil)
    }
}
