// For users building io.tokapi:sdk-kotlin with Gradle. Untested here: this machine has no
// Maven access, so `make test` compiles the same sources with Debian's kotlinc instead
// (TestSDKs in sdks/sdktest). The sources keep to Kotlin 1.3 (no sealed or fun interfaces).
plugins {
    kotlin("jvm") version "1.9.24"
    `java-library`
    `maven-publish`
}

group = "io.tokapi"
version = "1.0.0"

repositories { mavenCentral() }

dependencies {
    implementation("com.google.code.gson:gson:2.10")
    testImplementation("junit:junit:4.13.2")
}

kotlin { jvmToolchain(11) } // java.net.http needs Java 11+

sourceSets {
    // The examples compile with the tests; they run against a stack (see sdks/sdktest).
    test { kotlin.srcDir("examples") }
}

publishing {
    publications { create<MavenPublication>("maven") { from(components["java"]) } }
}
