// The app is served as a frontend team's dev server would serve it: its own origin, no proxy
// to the API (every call is cross-origin, so CORS is what makes it work).
export default {
  server: { host: "127.0.0.1", port: 5173, strictPort: true, hmr: false },
  logLevel: "warn",
  clearScreen: false,
};
