import Foundation
import Kiln
import KilnIR
import KilnImport

/// The one front door for models: where a model comes from, and how it becomes graphs.
///
/// Every `kiln` command and the plugin load models through it, so a new kind
/// of source is added here once.
///
/// ```swift
/// let models = try ModelSource(url: url).load()
/// ```
public enum ModelSource: Sendable {
    /// A Swift file declaring one or more `Model` types, traced by compiling it.
    case swiftFile(URL)
    /// A TensorFlow Lite flat buffer, imported.
    case tfliteFile(URL)
    /// An ONNX protobuf, imported (NCHW converted to NHWC).
    case onnxFile(URL)

    /// A model as loaded: its graph (weights not yet resolved, no passes run) and how to compile it.
    public struct LoadedModel: Sendable {
        /// The model's name: its type name, or the file's name without extension.
        public var name: String
        /// The traced or imported graph.
        public var graph: Graph
        /// The compile options the source asks for (a Swift model's `options`; defaults otherwise).
        public var options: CompileOptions
        /// Likely mistakes found while loading, each at its line (`Dense` fed an image without `Flatten`).
        public var warnings: [Diagnostic] = []
    }

    /// The kinds of file Kiln reads models from, by extension, for messages and help.
    public static let fileKinds = "a Swift model file (.swift), a TensorFlow Lite model (.tflite) or an ONNX model (.onnx)"

    /// The source `url` names, by its extension.
    public init(url: URL) throws {
        switch url.pathExtension.lowercased() {
        case "swift": self = .swiftFile(url)
        case "tflite": self = .tfliteFile(url)
        case "onnx": self = .onnxFile(url)
        default:
            throw CompilerError("\(url.path): Kiln cannot read this kind of file; give \(Self.fileKinds)")
        }
    }

    /// The file the models come from.
    public var url: URL {
        switch self {
        case .swiftFile(let url), .tfliteFile(let url), .onnxFile(let url): url
        }
    }

    /// The options of an imported model: the defaults, written by no model file.
    private static var importedOptions: CompileOptions {
        var options = CompileOptions()
        options.location = nil
        return options
    }

    /// Every model in the source; tracing problems are thrown together, each at its file and line.
    public func load(tracer: ModelSourceTracer? = nil) throws -> [LoadedModel] {
        switch self {
        case .swiftFile(let url):
            return try (tracer ?? ModelSourceTracer()).tracedGraphs(modelFile: url).map { graph, options, warnings in
                var options = options
                // Like weight files, calibration files are named relative to the model file.
                func resolved(_ path: String) -> String {
                    path.hasPrefix("/") ? path : url.deletingLastPathComponent().appendingPathComponent(path).standardizedFileURL.path
                }
                func resolved(_ calibration: CompileOptions.Calibration) -> CompileOptions.Calibration {
                    switch calibration {
                    case .npy(let path): .npy(resolved(path))
                    case .npyFiles(let paths): .npyFiles(paths.map(resolved))
                    case .samples: calibration
                    }
                }
                if case .fullInteger(var int8) = options.quantization {
                    int8.calibration = resolved(int8.calibration)
                    options.quantization = .fullInteger(int8)
                }
                if case .activationAware(let sparsity, let calibration, let scope, let pattern) = options.pruning {
                    options.pruning = .activationAware(
                        sparsity: sparsity, calibration: resolved(calibration), scope: scope, pattern: pattern)
                }
                return LoadedModel(name: graph.name, graph: graph, options: options, warnings: warnings)
            }
        case .tfliteFile(let url):
            let graph = try TFLiteImporter.importGraph(contentsOf: url)
            return [LoadedModel(name: graph.name, graph: graph, options: Self.importedOptions)]
        case .onnxFile(let url):
            let graph = try ONNXImporter.importGraph(contentsOf: url)
            return [LoadedModel(name: graph.name, graph: graph, options: Self.importedOptions)]
        }
    }
}

extension ModelSource {
    /// The name of the loading phase in compile timings.
    var loadPhase: String {
        switch self {
        case .swiftFile: "trace"
        case .tfliteFile, .onnxFile: "import"
        }
    }
}
