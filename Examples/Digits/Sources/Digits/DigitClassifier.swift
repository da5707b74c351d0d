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

/// The same classifier pruned and shared after training, without retraining: half its weights
/// zeroed (ranked by magnitude times input activation on the calibration images, the rest
/// repaired by least squares), then each layer's weights clustered into 16 values, which the
/// kernels store as 4-bit indices.
struct DigitClassifierCompressed: Model {
    var body: some Layer { DigitClassifier().body }
    var weights: WeightSource { .safetensors("digits.safetensors") }
    var options: CompileOptions {
        CompileOptions(
            pruning: .activationAware(sparsity: 0.5, calibration: .npy("calibration.npy"), scope: .global),
            weightSharing: .kMeans(centroids: 16))
    }
}

/// The same classifier placed on an OpenCL device (a GPU where there is one) at build time. The
/// app runs it the same way: where OpenCL is missing it runs on the CPU, and the model's
/// `placement` says where each layer ran and why.
///
/// The classifier is far too small to pay for a device's kernel launches, so the cost rule alone
/// would keep it on the CPU; `.allSupported` places its layers on the delegate to show it at work.
struct DigitClassifierOpenCL: Model {
    var body: some Layer { DigitClassifier().body }
    var weights: WeightSource { .safetensors("digits.safetensors") }
    var options: CompileOptions { CompileOptions(delegates: [.openCL(placement: .allSupported)]) }
}
