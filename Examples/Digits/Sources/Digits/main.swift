import Foundation

/// Held-out accuracy of `predict` on the test set, as a fraction.
func accuracy(_ testSet: TestSet, _ predict: ([Float]) throws -> [Float]) throws -> Double {
    var correct = 0
    for (image, label) in zip(testSet.images, testSet.labels) {
        let probabilities = try predict(image)
        let guess = probabilities.indices.max { probabilities[$0] < probabilities[$1] }
        if guess == label { correct += 1 }
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
let float = try DigitClassifier.compiled()
let int8 = try DigitClassifierInt8.compiled()
let fullInt8 = try DigitClassifierFullInt8.compiled()
let floatAccuracy = try accuracy(testSet, float.predict)
let int8Accuracy = try accuracy(testSet, int8.predict)
let fullInt8Accuracy = try accuracy(testSet, fullInt8.predict)
let floatLatency = try medianLatency(testSet, float.predict)
let int8Latency = try medianLatency(testSet, int8.predict)
let fullInt8Latency = try medianLatency(testSet, fullInt8.predict)

print("Digits: \(testSet.labels.count) held-out 8x8 images")
print(String(format: "  float32 weights: accuracy %.2f%%, median latency %.2f µs, weights %d bytes",
    floatAccuracy * 100, floatLatency, float.model.metadata.weightByteCount))
print(String(format: "  int8 weights:    accuracy %.2f%%, median latency %.2f µs, weights %d bytes",
    int8Accuracy * 100, int8Latency, int8.model.metadata.weightByteCount))
print(String(format: "  full int8:       accuracy %.2f%%, median latency %.2f µs, weights %d bytes",
    fullInt8Accuracy * 100, fullInt8Latency, fullInt8.model.metadata.weightByteCount))
