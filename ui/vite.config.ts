/// <reference types="vitest/config" />
// One config for the UI's dev server, its production build (ui/dist, which
// `hublet serve --ui` and the desktop app load) and its unit tests.
import { fileURLToPath } from "node:url";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root,
  plugins: [svelte({ configFile: `${root}svelte.config.js` })],
  // Relative asset URLs, so the build loads from any path and from Tauri's
  // custom protocol alike.
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
  server: { port: 5173, strictPort: true },
  test: {
    root,
    include: ["tests/**/*.test.ts"],
    environment: "node",
  },
});
