// Printable forms of secrets-bearing config values: a URL keeps everything but its password, so config errors,
// health messages and logs can name the service without leaking credentials.

/** The URL with its password replaced by ***. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    // not parseable as a URL: hide everything between :// (or //) and @
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}
