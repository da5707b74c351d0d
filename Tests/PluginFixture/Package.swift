// swift-tools-version: 6.0
// A package that uses KilnPlugin by path, built and run by KilnTests/PluginTests.
import PackageDescription

let plugin = Target.PluginUsage.plugin(name: "KilnPlugin", package: "kiln")
let kiln = Target.Dependency.product(name: "Kiln", package: "kiln")

let package = Package(
    name: "PluginFixture",
    dependencies: [.package(name: "kiln", path: "../..")],
    targets: [
        // Compiles and runs; its outputs are checked against the reference interpreter.
        .executableTarget(name: "Classifier", dependencies: [kiln], plugins: [plugin]),
        // Its model has a shape error: the build must fail at the model's line.
        .executableTarget(name: "ShapeErrorApp", dependencies: [kiln], plugins: [plugin]),
        // Its model uses app code: the build must say model files are self-contained.
        .executableTarget(name: "AppCodeApp", dependencies: [kiln], plugins: [plugin]),
        // Its model names a weight file that does not exist: the build must say so at the model's line.
        .executableTarget(name: "MissingWeightsApp", dependencies: [kiln], plugins: [plugin]),
        // PluginTests adds a model to its model file between two builds: the second must load it.
        .executableTarget(name: "GrowingApp", dependencies: [kiln], plugins: [plugin]),
    ],
    swiftLanguageModes: [.v6]
)
