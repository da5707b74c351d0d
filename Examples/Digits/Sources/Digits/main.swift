import KilnRuntime
import Foundation

/// The five builds of the classifier, each loaded once on first use. The generated classes are
/// `Sendable`, so they live in `static let`s under Swift 6's concurrency checking.
enum Classifiers {
    static let float = Result { try DigitClassifier.compiled() }
    static let int8 = Result { try DigitClassifierInt8.compiled() }
    static let fullInt8 = Result { try DigitClassifierFullInt8.compiled() }
    static let compressed = Result { try DigitClassifierCompressed.compiled() }
    static let openCL = Result { try DigitClassifierOpenCL.compiled() }
}

/// Held-out accuracy on the test set, as a fraction, of `classify`, which gives an image's digit.
func accuracy(_ testSet: TestSet, _ classify: ([Float]) throws -> Int?) throws -> Double {
    var correct = 0
    for (image, label) in zip(testSet.images, testSet.labels) where try classify(image) == label {
        correct += 1
    }
    return Double(correct) / Double(testSet.labels.count)
}

/// Median wall time of one inference through the allocation-free API, in microseconds.
func medianLatency(
    _ testSet: TestSet, _ run: (UnsafeBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) throws -> Void
) throws -> Double {
    var output = [Float](repeating: 0, count: 10)
    var samples: [Double] = []
    let clock = ContinuousClock()
    for round in 0..<2000 {
        let image = testSet.images[round % testSet.images.count]
        let elapsed = try clock.measure {
            try image.withUnsafeBufferPointer { input in
                try output.withUnsafeMutableBufferPointer { try run(input, $0) }
            }
        }
        if round >= 200 { samples.append(Double(elapsed.components.attoseconds) / 1e12) }
    }
    return samples.sorted()[samples.count / 2]
}

let testSet = try TestSet.load()
let float = try Classifiers.float.get()
let int8 = try Classifiers.int8.get()
let fullInt8 = try Classifiers.fullInt8.get()
let compressed = try Classifiers.compressed.get()
let openCL = try Classifiers.openCL.get()
let floatAccuracy = try accuracy(testSet) { try float.predict(image: $0).top().first?.index }
let int8Accuracy = try accuracy(testSet) { try int8.predict(image: $0).top().first?.index }
let fullInt8Accuracy = try accuracy(testSet) { try fullInt8.predict(image: $0).top().first?.index }
let compressedAccuracy = try accuracy(testSet) { try compressed.predict(image: $0).top().first?.index }
let openCLAccuracy = try accuracy(testSet) { try openCL.predict(image: $0).top().first?.index }
let floatLatency = try medianLatency(testSet, float.predict)
let int8Latency = try medianLatency(testSet, int8.predict)
let fullInt8Latency = try medianLatency(testSet, fullInt8.predict)
let compressedLatency = try medianLatency(testSet, compressed.predict)

print("Digits: \(testSet.labels.count) held-out 8x8 images")
print(String(format: "  float32 weights: accuracy %.2f%%, median latency %.2f µs, weights %d bytes",
    floatAccuracy * 100, floatLatency, float.metadata.weightByteCount))
print(String(format: "  int8 weights:    accuracy %.2f%%, median latency %.2f µs, weights %d bytes",
    int8Accuracy * 100, int8Latency, int8.metadata.weightByteCount))
print(String(format: "  full int8:       accuracy %.2f%%, median latency %.2f µs, weights %d bytes",
    fullInt8Accuracy * 100, fullInt8Latency, fullInt8.metadata.weightByteCount))
print(String(format: "  pruned + shared: accuracy %.2f%%, median latency %.2f µs, weights %d bytes",
    compressedAccuracy * 100, compressedLatency, compressed.metadata.weightByteCount))
let placement = openCL.model.placement
let onDevice = placement.filter { $0.processor == .openCL }.count
print(String(format: "  OpenCL delegate: accuracy %.2f%%, %@", openCLAccuracy * 100,
    openCL.model.delegateDevice.map { "\(onDevice) of \(placement.count) layers on '\($0)'" }
        ?? "on the CPU (\(placement.first?.reason ?? "no delegate"))"))
