// Prints the name of each model it loads (PluginTests rewrites it with the models file).
print(try First.compiled().metadata.modelName)
