import Foundation

/// Loaded once: the generated class is `Sendable`, so a `static let` passes Swift 6's checks.
enum Models {
    static let tinyNet = Result { try TinyNet.compiled() }
}

// Runs TinyNet on three fixed inputs and prints the outputs, one line each, through the typed API.
let model = try Models.tinyNet.get()
let count = CompiledTinyNet.Input.pixelsShape.reduce(1, *)
for sample in 0..<3 {
    let pixels = (0..<count).map { Float(sin(Double($0 * (sample + 1)) * 0.37)) }
    let output = try model.predict(pixels: pixels)
    precondition(output.top(4).count == 4 && output.scores[output.top()[0].index] == output.scores.max())
    print(output.scores.map { String($0.bitPattern) }.joined(separator: " "))
}
