import Foundation

// Runs TinyNet on three fixed inputs and prints the outputs, one line each.
let model = try TinyNet.compiled()
let count = CompiledTinyNet.inputShape.reduce(1, *)
for sample in 0..<3 {
    let input = (0..<count).map { Float(sin(Double($0 * (sample + 1)) * 0.37)) }
    let output = try model.predict(input)
    print(output.map { String($0.bitPattern) }.joined(separator: " "))
}
