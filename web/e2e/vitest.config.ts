import { defineConfig } from "vitest/config";

// The end-to-end tests: a real headless Chromium against a real `todo dev`.
export default defineConfig({
  test: {
    include: ["e2e/**/*.e2e.ts"],
    globalSetup: ["e2e/setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 150_000,
    fileParallelism: false,
  },
});
