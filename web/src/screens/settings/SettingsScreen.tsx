export function SettingsScreen() {
  return (
    <div class="page">
      <h1>Settings</h1>
    </div>
  )
}
