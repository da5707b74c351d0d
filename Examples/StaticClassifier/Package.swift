// swift-tools-version: 6.3;(experimentalCGen)
// Static mode: the model is compiled into assembly in a C target and linked
// into the executable; nothing is loaded at run time.
import PackageDescription

let package = Package(
    name: "StaticClassifier",
    dependencies: [
        // An app would name Kiln by URL; the example uses the checkout it lives in.
        .package(name: "kiln", path: "../..")
    ],
    targets: [
        // The model files (ordinary Swift, as in dynamic mode).
        .target(name: "ClassifierModels", dependencies: [.product(name: "Kiln", package: "kiln")]),
        // KilnPlugin turns the models of its Swift dependencies into NAME.S + NAME.h here.
        .target(
            name: "ClassifierKernels", dependencies: ["ClassifierModels"],
            plugins: [.plugin(name: "KilnPlugin", package: "kiln")]),
        .executableTarget(
            name: "StaticClassifier",
            dependencies: ["ClassifierKernels", .product(name: "Kiln", package: "kiln")]),
    ]
)
