import Kiln

/// Classifies 8×8 grayscale digits (scikit-learn's digits, pixels scaled to 0…1).
///
/// Weights come from `Training/train.py`; KilnPlugin compiles this file to
/// native code at build time.
struct DigitClassifier: Model {
    var body: some Layer {
        Input(shape: [1, 8, 8, 1]).named("image")
        Flatten()
        Dense(256, activation: .relu)
        Dense(10)
        Softmax().named("probabilities")
    }
    var weights: WeightSource { .safetensors("digits.safetensors") }
}

/// The same classifier with int8 weights: a quarter of the weight bytes.
struct DigitClassifierInt8: Model {
    var body: some Layer { DigitClassifier().body }
    var weights: WeightSource { .safetensors("digits.safetensors") }
    var options: CompileOptions { CompileOptions(quantization: .int8Weights) }
}

/// The same classifier in full int8 (weights and activations), its activation ranges
/// calibrated on 100 training images (`calibration.npy`, from `Training/train.py`).
struct DigitClassifierFullInt8: Model {
    var body: some Layer { DigitClassifier().body }
    var weights: WeightSource { .safetensors("digits.safetensors") }
    var options: CompileOptions { CompileOptions(quantization: .int8(calibration: .npy("calibration.npy"))) }
}
