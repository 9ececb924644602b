rootProject.name = "sdk-kotlin"
