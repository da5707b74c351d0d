import ClassifierKernels
import Foundation
import KilnRuntime

// The model's code is linked into this executable: wrap its entry point and metadata.
let model = try CompiledModel(
    linkedEntryPoint: kiln_Classifier_run, metadataJSON: String(cString: kiln_Classifier_metadata()))
let count = model.metadata.inputs[0].elementCount
for sample in 0..<3 {
    let input = (0..<count).map { Float(sin(Double($0 * (sample + 1)) * 0.37)) }
    let output = try model.predict(input)
    print(output.map { String($0.bitPattern) }.joined(separator: " "))
}
