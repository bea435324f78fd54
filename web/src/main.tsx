import { render } from 'preact'
import { App } from './app'
import { createSession } from './lib/api'
import './styles.css'

const session = createSession()
render(<App session={session} />, document.getElementById('app')!)
