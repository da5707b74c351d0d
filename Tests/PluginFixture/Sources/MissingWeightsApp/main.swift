print(try Unweighted.compiled().metadata.modelName)
