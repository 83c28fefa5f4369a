/** Build-time settings (Vite replaces `import.meta.env.VITE_*`); see config.ts. */
interface ImportMetaEnv {
  readonly VITE_SUPABASE_URL?: string;
  readonly VITE_SUPABASE_PUBLISHABLE_KEY?: string;
  /** "true" when the deployment's functions have LiveKit settings. */
  readonly VITE_ROOMKIT_VOICE?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}

/** Stylesheets imported for their effect (`import "./styles.css"`): Vite bundles them. */
declare module "*.css";
